# One image for `tempodesk api`, `tempodesk worker`, `tempodesk smtp` and
# `tempodesk codec-server`; the command picks the role. Configuration is environment
# (TEMPODESK_*) plus the clients file mounted at TEMPODESK_CONFIG_PATH.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain domain
COPY activities activities
COPY workflows workflows
COPY desk desk
COPY api api
COPY commands commands
COPY *.py ./
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 tempodesk
COPY --from=build /wheels /wheels
# provider_sandbox.py is the test and demo double of Graph, SentinelOne and Datto (used by
# `tempodesk dev` and the tests): it never ships in the production image.
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
 && python -c "import pathlib, provider_sandbox; pathlib.Path(provider_sandbox.__file__).unlink()" \
 && ! python -c "import provider_sandbox" 2>/dev/null
USER tempodesk
WORKDIR /home/tempodesk
ENV TEMPODESK_CONFIG_PATH=/etc/tempodesk/tempodesk.yaml \
    TEMPODESK_API_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
EXPOSE 8000
ENTRYPOINT ["tempodesk"]
CMD ["api"]
