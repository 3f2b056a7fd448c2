"""MQTT packets on the wire: one packet model (the `mqtt5` library's classes) and a codec per
protocol version, so that the connection speaks to devices without knowing which they use."""
