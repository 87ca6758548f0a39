"""Request and response models (pydantic) and database tables (SQLAlchemy)."""
