"""lmpipe: an end-to-end data-to-model pipeline for language models.

Importing the package pins the process to offline, analytics-free settings before any
third-party library (huggingface_hub, prefect, great_expectations, dvc) reads its environment.
"""
from pipeline.env import configure_environment

configure_environment()
