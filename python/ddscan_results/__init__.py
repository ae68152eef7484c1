"""ddscan_results - read ddscan results files (HDF5) as numpy arrays with coordinates, or as
xarray objects when xarray is importable.  Needs numpy and h5py.

    import ddscan_results as dr
    r = dr.open("runs/x/results.h5")
    r.scan("z", method="sound").sel(mass_gev=50.0)          # .to_xarray() for an xarray.DataArray
"""
from .reader import (ANALYSIS_DIMS, FLAGS, QUALITY_FLAGS, Missing, Quantity, ResultsFile,  # noqa: A004
                     decode, flag_names, open, stage_of)

__all__ = ["open", "ResultsFile", "Quantity", "Missing", "decode", "stage_of", "ANALYSIS_DIMS",
           "FLAGS", "QUALITY_FLAGS", "flag_names"]
__version__ = "0.3.0"
