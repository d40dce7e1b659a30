"""Prefect flows over the lmpipe stages. Importing `pipeline` first pins the offline settings
and the project-local PREFECT_HOME before Prefect reads its environment."""
import pipeline  # noqa: F401
