"""Early-warning gateway: SMS/USSD reports in, alerts out."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
