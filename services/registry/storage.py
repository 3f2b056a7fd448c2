"""The registry's tables and the queries its use cases make."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from services.kit.db import UtcDateTime, new_metadata

metadata = new_metadata()

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("size_class", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_tenants_created", "created_at", "id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("manufacturer", String(200), nullable=False),
    Column("model", String(200), nullable=False),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

profile_versions = Table(
    "profile_versions",
    metadata,
    Column("profile_id", String(36), ForeignKey("profiles.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("channels", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("serial_number", String(64), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("profile_version", Integer, nullable=False),
    Column("site", String(200), nullable=False),
    Column("production_line", String(200), nullable=False),
    # Kept whole here for reading, and row by row in device_labels for filtering.
    Column("labels", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("firmware_version", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime()),
    # Reported by protocol adapters while the device is connected (a lease).
    Column("connected_until", UtcDateTime()),
    ForeignKeyConstraint(
        ["profile_id", "profile_version"],
        ["profile_versions.profile_id", "profile_versions.version"],
        name="fk_devices_profile_version",
    ),
    UniqueConstraint("tenant_id", "serial_number", name="uq_devices_tenant_serial"),
    Index("ix_devices_tenant_name", "tenant_id", "display_name", "id"),
    Index("ix_devices_tenant_created", "tenant_id", "created_at", "id"),
    Index("ix_devices_tenant_state", "tenant_id", "state", "serial_number"),
    Index("ix_devices_tenant_site", "tenant_id", "site", "serial_number"),
    Index("ix_devices_tenant_profile", "tenant_id", "profile_id", "serial_number"),
)

device_labels = Table(
    "device_labels",
    metadata,
    Column("device_id", String(36), ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(63), primary_key=True),
    Column("value", String(63), nullable=False),
    Column("tenant_id", String(36), nullable=False),
    Index("ix_device_labels_tenant_key_value", "tenant_id", "key", "value"),
)

device_credentials = Table(
    "device_credentials",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("device_id", String(36), ForeignKey("devices.id"), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("valid_from", UtcDateTime()),
    Column("valid_until", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
    # Tokens a device chose when provisioning itself are found by their hash, which is
    # therefore unique (random secrets' hashes are anyway).
    Index("ux_device_credentials_secret_hash", "secret_hash", unique=True),
)

# What each device reported about itself; apart from `devices` so that a report
# neither changes the device's version nor contends with its updates.
device_client_attributes = Table(
    "device_client_attributes",
    metadata,
    Column("device_id", String(36), ForeignKey("devices.id"), primary_key=True),
    Column("attributes", JSON, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Server-side RPCs to devices: kept until they are answered or expire, and listed after.
device_rpcs = Table(
    "device_rpcs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("device_id", String(36), ForeignKey("devices.id"), nullable=False),
    Column("method", String(128), nullable=False),
    Column("params", JSON),
    Column("one_way", Boolean, nullable=False),
    Column("timeout_ms", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("response", JSON),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()),
    Column("answered_at", UtcDateTime()),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("ix_device_rpcs_device_created", "device_id", "created_at", "id"),
    # Delivery looks only for the few RPCs still waiting.
    Index("ix_device_rpcs_device_waiting", "device_id", "status", "expires_at"),
)

# People: users of a tenant, and the platform's operators (no tenant).
users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id")),
    # Lower case, so unique without regard to case.
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # A TOTP secret must be read to check codes, so it is kept, not hashed.
    Column("totp_secret", String(64)),
    Column("totp_confirmed", Boolean, nullable=False),
    Column("totp_last_step", Integer),
    Index("ix_users_tenant_created", "tenant_id", "created_at", "id"),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("client_address", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime()),
)

# Failed sign-ins, counted per account (e-mail) and per client address within a window;
# in the database, so that every replica of registry-api counts the same.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(254), nullable=False),
    Column("failed_at", UtcDateTime(), nullable=False),
    Index("ix_sign_in_failures_subject", "kind", "subject", "failed_at"),
)

# Invitations, password resets and second-factor challenges: used once, then kept
# until pruned.
one_time_tokens = Table(
    "one_time_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("purpose", String(24), nullable=False),
    Column("tenant_id", String(36)),
    Column("user_id", String(36)),
    Column("email", String(254), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("used_at", UtcDateTime()),
)

tenant_security = Table(
    "tenant_security",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id"), primary_key=True),
    Column("two_factor_required", Boolean, nullable=False),
)

sign_ups = Table(
    "sign_ups",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("company_name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("size_class", String(16), nullable=False),
    Column("admin_email", String(254), nullable=False),
    Column("admin_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("client_address", String(64), nullable=False),
    Column("email_domain", String(254), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("tenant_id", String(36)),
    Index("ix_sign_ups_created", "created_at", "id"),
    Index("ix_sign_ups_address", "client_address", "created_at"),
    Index("ix_sign_ups_domain", "email_domain", "created_at"),
    Index("ix_sign_ups_status_expires", "status", "expires_at"),
)


# A profile's device provisioning: its key, unique across tenants since a device names
# nothing else, and its secret, hashed.
profile_provisioning = Table(
    "profile_provisioning",
    metadata,
    Column("profile_id", String(36), ForeignKey("profiles.id"), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("strategy", String(32), nullable=False),
    Column("provision_key", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("provision_key", name="uq_profile_provisioning_key"),
)

# Devices that provisioned themselves, or were provisioned beforehand and claimed: a
# pre-provisioned device provisions once.
provisioned_devices = Table(
    "provisioned_devices",
    metadata,
    Column("device_id", String(36), ForeignKey("devices.id"), primary_key=True),
    Column("provisioned_at", UtcDateTime(), nullable=False),
)
