"""API schemas (Pydantic), one family per resource: XCreate, XUpdate, XPublic, XsPublic{data, count}.
ORM models live apart, in agentcreator.db.models."""
