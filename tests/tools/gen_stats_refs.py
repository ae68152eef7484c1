#!/usr/bin/python3
"""gen_stats_refs.py - mpmath (50 digits) reference values for the deep-tail
checks of tests/test_stats.c that spec §8 does not list.  Run with Debian's
/usr/bin/python3; paste the printed lines into test_stats.c."""
import mpmath as mp

mp.mp.dps = 50


def sf(z):
    return mp.erfc(z / mp.sqrt(2)) / 2


def chi2_sf(x, k):
    return mp.gammainc(mp.mpf(k) / 2, mp.mpf(x) / 2, mp.inf, regularized=True)


print("/* Phibar(z) */")
for z in (-3, 0.5, 8, 10, 20, 30, 37):
    print(f"{{{z}, {mp.nstr(sf(mp.mpf(z)), 17)}}},")
print("/* log Phibar(z) */")
for z in (30, 40, 50, 100, 1000):
    print(f"{{{z}, {mp.nstr(mp.log(sf(mp.mpf(z))), 17)}}},")
print("/* isf(p) */")
for p in ("1e-10", "1e-100", "1e-200", "1e-300", "0.3", "0.9"):
    z = mp.findroot(lambda z: mp.log(sf(z)) - mp.log(mp.mpf(p)),
                    mp.sqrt(max(-2 * mp.log(mp.mpf(p)), 0.01)))
    print(f"{{{p}, {mp.nstr(z, 17)}}},")
print("/* isf from log p */")
for lp in (-800, -5000, -1e6):
    z = mp.findroot(lambda z: mp.log(sf(z)) - lp, mp.sqrt(-2 * lp))
    print(f"{{{lp}, {mp.nstr(z, 17)}}},")
print("/* chi2 sf (x, k) */")
for x, k in ((3, 3), (0.5, 5), (30, 5), (100, 10), (1400, 10), (200, 50), (1500, 50), (0.1, 50)):
    print(f"{{{x}, {k}, {mp.nstr(chi2_sf(x, k), 17)}}},")
print("/* chi2 log sf (x, k) */")
for x, k in ((3000, 3), (5000, 20)):
    print(f"{{{x}, {k}, {mp.nstr(mp.log(chi2_sf(x, k)), 17)}}},")
print("/* chi2 isf (p, k) */")
for p, k in (("1e-300", 1), ("1e-300", 5), ("1e-300", 50), ("0.5", 3), ("1e-20", 7)):
    x = mp.findroot(lambda x: mp.log(chi2_sf(x, k)) - mp.log(mp.mpf(p)),
                    (mp.mpf(0.5), mp.mpf(3000)), solver="anderson")
    print(f"{{{p}, {k}, {mp.nstr(x, 17)}}},")
