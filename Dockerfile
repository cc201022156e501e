# The bot: python -m bot run (applies pending migrations, then connects).
# Pinned: the same Python in every build (bump deliberately, with the tests).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The colour emoji font report images draw emojis with (without it they show the emojis' names).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-color-emoji \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY alembic.ini ./
COPY alembic ./alembic
COPY bot ./bot
COPY cogs ./cogs
COPY db ./db
# Not the bot, but in the image so that `docker run … demo` works without a token.
COPY sandbox ./sandbox
COPY demo ./demo

RUN useradd --create-home --uid 10001 statsbot && mkdir -p /app/data && chown statsbot /app/data
USER statsbot
VOLUME ["/app/data"]

# SIGTERM makes the bot push and flush what it holds before it exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
