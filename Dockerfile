# syntax=docker/dockerfile:1
# Latchkey: build a wheel, then run it as an unprivileged user on a slim Python base.
# The base is pinned by tag AND digest (the multi-arch index of python:3.11.14-slim-bookworm);
# bump both together.  The dependencies are the exact versions and hashes of requirements.lock
# (`make lock`), so an image built next month holds what this one holds.  Every setting comes
# from the environment (README, "Configuration reference").

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY connectors ./connectors
COPY storage ./storage
# sandbox/ (the local stand-ins for Slack and the targets) is left out: it is for tests and
# `latchkey demo` on a development install, never for production.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d
LABEL org.opencontainers.image.title="latchkey" \
      org.opencontainers.image.description="Just-in-time access, approved in Slack" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/latchkey.db LATCHKEY_CONFIG=/config/latchkey.yaml
RUN groupadd --gid 10001 latchkey \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin latchkey \
    && mkdir /data /config && chown 10001:10001 /data
COPY requirements.lock /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-compile --require-hashes -r /tmp/requirements.lock \
    && pip install --no-cache-dir --no-compile --no-deps /wheels/*.whl \
    && pip check \
    && rm -rf /wheels /tmp/requirements.lock
USER 10001:10001
WORKDIR /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["latchkey"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]
