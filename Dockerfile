FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts contracts
COPY devices devices
COPY firmware_sim firmware_sim
COPY edge_agent edge_agent
COPY central central
COPY wms wms
RUN pip install --no-cache-dir .
ENTRYPOINT []
