# The zoomstream image for docker-compose: ingest and worker run from the same image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY zoomstream ./zoomstream
COPY ingest ./ingest
COPY streams ./streams
COPY sinks ./sinks
COPY schemas ./schemas
RUN pip install --no-cache-dir .
ENV WORKER_DATADIR=/var/lib/zoomstream
ENTRYPOINT ["zoomstream"]
