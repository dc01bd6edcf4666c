# The torch-free embedding service: onnxruntime + tokenizers + numpy + FastAPI (no torch, no transformers).
# Its packages are the `serve` and `index` extras of pyproject.toml — one list, not a second one here.
# Export first, then mount the model folder:
#   embedlab export onnx runs/demo-stsb-minilm/model --int8
#   docker build -t embedlab-serve .
#   docker run -p 8000:8000 -v $PWD/runs/demo-stsb-minilm/model:/model:ro -e EMBEDLAB_BACKEND=onnx-int8 embedlab-serve
FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir ".[serve,index]"
ENV EMBEDLAB_MODEL=/model EMBEDLAB_BACKEND=onnx
EXPOSE 8000
CMD ["uvicorn", "--factory", "embedlab.serve.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "10"]
