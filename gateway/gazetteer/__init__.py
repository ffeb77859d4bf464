"""Place matching: administrative units, localities, and what a typed name designates."""

from gateway.gazetteer.matcher import Candidate, Gazetteer, PlaceMention
from gateway.gazetteer.model import COMMUNE, DEPARTMENT, REGION, ImportBatch, Place, Unit
from gateway.gazetteer.readers import GazetteerFormatError, read_gazetteer_file, read_gazetteer_files

__all__ = [
    "COMMUNE", "DEPARTMENT", "REGION", "Candidate", "Gazetteer", "GazetteerFormatError", "ImportBatch",
    "Place", "PlaceMention", "Unit", "read_gazetteer_file", "read_gazetteer_files",
]
