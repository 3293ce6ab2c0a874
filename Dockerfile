# syntax=docker/dockerfile:1
# Latchkey: build a wheel, then run it as an unprivileged user on a slim Python base.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY connectors ./connectors
COPY storage ./storage
COPY sandbox ./sandbox
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/latchkey.db LATCHKEY_CONFIG=/config/latchkey.yaml
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin latchkey \
    && mkdir /data /config && chown latchkey /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
USER 10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["latchkey"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]
