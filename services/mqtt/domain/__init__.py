"""What is specific to Gantry in MQTT, free of I/O: ThingsBoard's device topics, payload
shapes, limits, and how each refusal is said in MQTT 3.1.1 and 5.0."""
