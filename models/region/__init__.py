"""The region level: a whole Kreis as a model (see :mod:`models.region.model`)."""

from models.region.build import build_region
from models.region.bundle import load_region, region_dir, region_names, write_region
from models.region.model import AGE65PLUS, AGE_COLUMNS, BASE_YEAR, UNDER18, Region

__all__ = ["build_region", "write_region", "load_region", "region_dir", "region_names", "Region", "AGE_COLUMNS",
           "AGE65PLUS", "UNDER18", "BASE_YEAR"]
