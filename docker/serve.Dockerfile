# voicesmith's inference image: the HTTP service (Polly, OpenAI, SageMaker doors) on onnxruntime, no torch,
# running as an unprivileged user, state in /data. Build from the repository root:
#   docker build -f docker/serve.Dockerfile -t voicesmith:0.1.0 .
#   docker run -p 8000:8000 -v voicesmith-data:/data -e VOICESMITH_AWS_CREDENTIALS='{"AKID": "secret"}' voicesmith:0.1.0
# The Python version and extras must match pyproject.toml (tests/test_containers.py checks them).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[server,s3,postgres]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/voicesmith voicesmith \
    && mkdir /data && chown voicesmith:voicesmith /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "voicesmith[server,s3,postgres]" \
    && rm -rf /wheels \
    && ! python -c "import torch" 2>/dev/null
USER voicesmith
ENV VOICESMITH_HOST=0.0.0.0 \
    VOICESMITH_PORT=8000 \
    VOICESMITH_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["voicesmith", "serve"]
