# The course environment: JupyterLab on port 8888 with the labs (notebooks/), TensorBoard on port
# 6006 reading runs/. Use compose.yaml (docker compose up); by hand:
#   docker build -t deepgrad-lab .
#   docker run -p 8888:8888 -v "$PWD/runs:/work/runs" deepgrad-lab
# CUDA: a CUDA base image and the matching CuPy extra, e.g.
#   docker build -t deepgrad-lab:cuda \
#     --build-arg BASE_IMAGE=nvidia/cuda:12.6.3-runtime-ubuntu24.04 \
#     --build-arg EXTRAS=plot,tensorboard,datasets,cuda12 .
#   docker run --gpus all -p 8888:8888 deepgrad-lab:cuda
ARG BASE_IMAGE=python:3.12-slim-bookworm
FROM ${BASE_IMAGE}

ARG EXTRAS=plot,tensorboard,datasets
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    MPLBACKEND=Agg

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The python images have Python; a CUDA base image does not: take the distribution's.
# hadolint ignore=DL3008
RUN if ! python3 -c "import ensurepip, venv" 2>/dev/null; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /opt/deepgrad
COPY pyproject.toml README.md LICENSE ./
COPY deepgrad ./deepgrad
COPY docker/install.sh ./docker/install.sh
RUN python3 -m venv /opt/venv && bash docker/install.sh "${EXTRAS}"

RUN (getent passwd 1000 >/dev/null || useradd --create-home --uid 1000 student) \
    && mkdir -p /work/runs /work/data \
    && chown -R student /work
COPY --chown=1000:1000 notebooks /work/notebooks
USER 1000
WORKDIR /work
ENV DEEPGRAD_DATA=/work/data
EXPOSE 8888 6006

# Jupyter's root is /work: the labs in notebooks/, the runs in runs/ (where TensorBoard looks).
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--ServerApp.root_dir=/work"]
