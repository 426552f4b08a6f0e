"""SEANet encoder and decoder (discriminators live in ``discriminators.py``)."""

from codec.models.decoder import SEANetDecoder
from codec.models.encoder import SEANetEncoder, SEANetResnetBlock

__all__ = ["SEANetDecoder", "SEANetEncoder", "SEANetResnetBlock"]
