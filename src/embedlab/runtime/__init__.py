"""Running a saved model: the `Encoder` protocol (torch or onnxruntime) and ONNX export."""
