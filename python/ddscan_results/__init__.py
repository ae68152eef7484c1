"""ddscan_results - read ddscan results files (HDF5) as numpy arrays with coordinates, or as
xarray objects when xarray is importable.  Needs numpy and h5py.

    import ddscan_results as ddr
    res = ddr.open("run/results.h5")
    p = res.get("scan/p_value").sel(mass_gev=50.0, exposure_ty=5.0)
"""
from .reader import Quantity, ResultsFile, decode, open  # noqa: A004

__all__ = ["open", "ResultsFile", "Quantity", "decode"]
__version__ = "0.2.0"
