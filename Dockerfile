# The dashboard by default; the API with the command overridden (see README).
FROM python:3.11-slim

WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 FAKEUSERS_MODELS_DIR=/app/models

# Same install step as the README's first Quick start command.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY app.py pyproject.toml README.md ./
COPY .streamlit/ .streamlit/
COPY pages/ pages/
COPY fakeusers/ fakeusers/
COPY data/ data/
COPY docs/ docs/
RUN mkdir -p models

EXPOSE 8501 8000
# Inside a container the server must listen on all interfaces to be reachable at all;
# publish the port only where it should be seen.
CMD ["streamlit", "run", "app.py", "--server.headless", "true", "--server.port", "8501", "--server.address", "0.0.0.0"]
