-- One database per service. The postgres image runs this once, on an empty data directory.
CREATE DATABASE registry;
CREATE DATABASE telemetry;
CREATE DATABASE marketplace;
CREATE DATABASE analytics;
