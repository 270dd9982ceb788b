# One image for every wardlink role: `wardlink gateway`, `wardlink edge`, `wardlink sim sorter`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contract ./contract
COPY mqttlink ./mqttlink
COPY device_profiles ./device_profiles
COPY edge ./edge
COPY gateway ./gateway
COPY simulators ./simulators
COPY wardlink ./wardlink
RUN pip install --no-cache-dir . && useradd --system --uid 10001 wardlink \
    && mkdir -p /var/lib/wardlink && chown wardlink /var/lib/wardlink
USER wardlink
ENV WARDLINK_DATA_DIR=/var/lib/wardlink
ENTRYPOINT ["wardlink"]
CMD ["gateway"]
