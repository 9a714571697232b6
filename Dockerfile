# One image for the code-location server, webserver and daemon (Dagster deploy_docker layout).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 DAGSTER_HOME=/opt/dagster/home FWE_DATA_ROOT=/data
RUN pip install --no-cache-dir "uv>=0.5"
WORKDIR /opt/fwe
COPY pyproject.toml uv.lock README.md ./
COPY engine_core engine_core
COPY dagster_project dagster_project
COPY policies policies
COPY contracts contracts
RUN uv sync --frozen --no-dev --extra postgres && mkdir -p $DAGSTER_HOME /data
COPY dagster.postgres.yaml $DAGSTER_HOME/dagster.yaml
COPY workspace.docker.yaml $DAGSTER_HOME/workspace.yaml
ENV PATH=/opt/fwe/.venv/bin:$PATH
