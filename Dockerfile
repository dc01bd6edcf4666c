# The torch-free embedding service: onnxruntime + tokenizers + numpy + FastAPI (no torch, no transformers).
# Export first, then mount the model folder:
#   embedlab export onnx runs/stsb-minilm/model --int8
#   docker build -t embedlab-serve .
#   docker run -p 8000:8000 -v $PWD/runs/stsb-minilm/model:/model:ro -e EMBEDLAB_BACKEND=onnx-int8 embedlab-serve
FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir -r /dev/stdin <<'REQS' && pip install --no-cache-dir --no-deps .
onnxruntime>=1.18
tokenizers>=0.22
numpy>=1.26
faiss-cpu>=1.8
fastapi>=0.110
uvicorn[standard]>=0.29
orjson>=3.9
filelock>=3.12
pydantic>=2.6
pydantic-settings>=2.2
prometheus-client>=0.20
REQS
ENV EMBEDLAB_MODEL=/model EMBEDLAB_BACKEND=onnx
EXPOSE 8000
CMD ["uvicorn", "--factory", "embedlab.serve.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
