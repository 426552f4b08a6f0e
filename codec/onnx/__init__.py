"""ONNX export with explicit streaming state (``codec export-onnx``) and a torch-free runtime.

``export.py`` writes the graphs and their JSON sidecar, ``graphs.py`` builds the graph modules,
``layers.py`` holds the streaming steps in an exportable form (state in, state out) and
``runtime.py`` drives the exported graphs with numpy + onnxruntime only (no torch). Nothing
here is imported by ``import codec``; onnx / onnxruntime are the optional extra ``onnx``.
"""
