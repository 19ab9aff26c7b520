# One image for every fs3 role: meta, storage, client.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fs3 fs3
COPY meta meta
COPY storage storage
COPY client client
COPY dataloader dataloader
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /data
ENTRYPOINT ["fs3"]
