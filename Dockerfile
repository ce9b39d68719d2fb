# One image for every TokenTrail service; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY sdk/ sdk/
RUN pip install ./sdk

COPY pyproject.toml README.md ./
COPY core/ core/
COPY collector/ collector/
COPY workers/ workers/
COPY dashboard/ dashboard/
COPY migrations/ migrations/
COPY cli/ cli/
RUN pip install . && useradd --system --uid 10001 tokentrail

USER tokentrail
EXPOSE 4318 8501
CMD ["tokentrail", "--help"]
