"""Beacon settings.

With no environment set, everything runs in one process on SQLite and the
in-memory channel layer (the embedded default). Environment variables only
upgrade backends and harden the deployment:

  DATABASE_URL     postgres://user:pass@host:5432/beacon
  REDIS_URL        redis://host:6379/0 (channel layer, hub fan-out, relay registry)
  SECRET_KEY       required when DEBUG is off
  DEBUG            "1"/"true" for development. Defaults to on only in the
                   embedded mode (no DATABASE_URL), which is for evaluation and
                   development on one machine; off whenever DATABASE_URL is set
  ALLOWED_HOSTS    comma-separated host names
  CSRF_TRUSTED_ORIGINS  comma-separated origins (https://beacon.example.gov)
  SECURE_SSL       "0" to turn off HTTPS-only cookies and redirects (behind
                   a proxy that terminates TLS but talks plain HTTP to clients: never)
  MAP_TILE_URL     tile server template for the maps; empty for no tiles
  DATABASE_POOL_MAX  PostgreSQL connections per process (default 10)
  STATIC_ROOT      where collectstatic writes (default: staticfiles/ in the checkout)
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no environment variable."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=not os.environ.get("DATABASE_URL"))

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG off) needs a long random SECRET_KEY "
            "in the environment; set DEBUG=1 only for development."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "accounts.admin_site.BeaconAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "audit",
    "accounts",
    "events",
    "dispatch",
    "alerts",
    "liveview",
    "simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionLimitsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.beacon",
            ],
        },
    },
]

ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

# Database: SQLite unless DATABASE_URL says otherwise.
#
# Connections under ASGI: Django serves each request's sync part in a thread
# made for that request, so a persistent connection (CONN_MAX_AGE > 0) would
# outlive its thread, unclosed, one per request. CONN_MAX_AGE stays 0; on
# PostgreSQL a connection closed at the end of a request goes back to psycopg's
# pool instead of being torn down (DATABASE_POOL_MAX per process), and the
# long-lived threads (device ingest, sockets: alerts.services.in_db_thread)
# keep theirs between requests.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": int(os.environ.get("DATABASE_POOL_MAX", "10")),
        "timeout": 10,  # seconds to wait for a free connection before the request fails
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One ASGI process shares the file between threads; wait for the write
    # lock instead of failing at once, and let readers run beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a test server in another process can share it;
    # one per test run, so runs side by side do not clobber each other.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer and cross-process fan-out.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# CJIS Security Policy 5.5.3 / 5.5.5: lock the account after 5 failed sign-ins
# within 15 minutes; lock an idle session after 30 minutes; end any session
# after 12 hours.
LOGIN_FAILURE_LIMIT = 5
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
SESSION_IDLE_SECONDS = 30 * 60
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Chicago")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Beacon API",
    "DESCRIPTION": (
        "Real-time dispatch and live body-camera view. Calls for service, units, "
        "alerts and devices; calls export as NENA EIDO."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CallStatusEnum": "dispatch.models.CallStatus",
        "UnitStatusEnum": "dispatch.models.UnitStatus",
    },
}

# Maps: a tile URL template (Leaflet syntax). Empty means no tiles; the maps
# still show units and calls on a plain grid, as a police network without
# internet access needs.
MAP_TILE_URL = os.environ.get("MAP_TILE_URL", "")

# Live video: this process's own base URL, where a WHIP/WHEP request for a
# camera it owns is redirected (307) by the other nodes. Empty: taken from the
# first request (one process, the embedded default).
BEACON_NODE_URL = os.environ.get("BEACON_NODE_URL", "")
# Recordings the relay writes (the department's own storage).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"
AGENCY_NAME = os.environ.get("AGENCY_NAME", "")

# Production hardening: on whenever DEBUG is off.
if not DEBUG:
    SECURE_SSL = env_bool("SECURE_SSL", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = SECURE_SSL
    SESSION_COOKIE_SECURE = SECURE_SSL
    CSRF_COOKIE_SECURE = SECURE_SSL
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000")) if SECURE_SSL else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL
    SECURE_HSTS_PRELOAD = SECURE_SSL
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # ICE and DTLS chatter for every peer connection; warnings still show.
        "aioice": {"level": "WARNING"},
        "aiortc": {"level": "WARNING"},
    },
}
