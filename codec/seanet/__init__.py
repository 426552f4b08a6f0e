"""SEANet encoder and decoder (EnCodec's layout), causal or not, streaming."""

from codec.seanet.blocks import SEANetResnetBlock
from codec.seanet.decoder import SEANetDecoder
from codec.seanet.encoder import SEANetEncoder

__all__ = ["SEANetDecoder", "SEANetEncoder", "SEANetResnetBlock"]
