# The dashboard by default; the API with the command overridden (see README).
FROM python:3.11-slim

WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 FAKEUSERS_MODELS_DIR=/app/models

# Same install step as the README's first Quick start command.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY app.py pyproject.toml README.md ./
COPY .streamlit/ .streamlit/
COPY views/ views/
COPY fakeusers/ fakeusers/
COPY data/ data/
COPY docs/ docs/
# Not root: the app writes only its models, its review database and its docs site.
RUN useradd --create-home --uid 10001 fakeusers \
    && mkdir -p models \
    && chown -R fakeusers:fakeusers models data docs
USER fakeusers

EXPOSE 8501 8000
# Healthy when the dashboard (8501) or the API (8000, with the command overridden) answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 CMD ["python", "-c", "import urllib.request as r\nfor url in ('http://127.0.0.1:8501/_stcore/health', 'http://127.0.0.1:8000/health'):\n    try:\n        r.urlopen(url, timeout=3)\n        raise SystemExit(0)\n    except OSError:\n        pass\nraise SystemExit(1)"]
# Inside a container the server must listen on all interfaces to be reachable at all;
# publish the port only where it should be seen.
CMD ["streamlit", "run", "app.py", "--server.headless", "true", "--server.port", "8501", "--server.address", "0.0.0.0"]
