#!/usr/bin/env python3
"""gen_cfg_bad.py - writes the generated part of tests/data/cfg_bad/: bad
configurations of every class issue 18 names (32-bit wrap-around, NUL bytes,
implausible physics, scan masses the simulation cannot produce, network
input vs image size, empty samples, run names, types, unknown keys, syntax).
Each file starts with "# expect: TEXT", the text the one error line must hold
(file:line, key, what is wrong).  Files are named g_*.cfg; the hand-written
ones keep their names.  Run from the repository root:
    python3 tests/tools/gen_cfg_bad.py
"""
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "cfg_bad")
U32 = "4294967295"

# (name, body: the lines after the "# expect:" line, line of the error
#  (line 2 is the first body line), key or None, message text)
CASES = []


def case(name, body, key, msg, line=2):
    CASES.append((name, body, line, key, msg))


# --- 64-bit integers: libconfig 1.5 wrapped these without a word ----------
rng = "must be in [%s, %s], got %s"
case("int_seed_wrap", "run = { seed = 4294967297; };", "run.seed", rng % (0, U32, 4294967297))
case("int_seed_2p32", "run = { seed = 4294967296; };", "run.seed", rng % (0, U32, 4294967296))
case("int_seed_hex", "run = { seed = 0x1FFFFFFFF; };", "run.seed", rng % (0, U32, 8589934591))
case("int_seed_neg_wrap", "run = { seed = -4294967295; };", "run.seed",
     rng % (0, U32, -4294967295))
case("int_seed_2p63", "run = { seed = 99999999999999999999; };", "run.seed",
     "integer does not fit in 64 bits")
case("int_seed_2p63_neg", "run = { seed = -99999999999999999999; };", "run.seed",
     "integer does not fit in 64 bits")
case("int_seed_l_suffix", "run = { seed = 4294967296L; };", "run.seed",
     rng % (0, U32, 4294967296))
case("int_er_train_wrap", "detector = { bank = { er_train = 4294967596; }; };",
     "detector.bank.er_train", rng % (1, U32, 4294967596))
case("int_nr_test_wrap", "detector = { bank = { nr_test = 4294967296; }; };",
     "detector.bank.nr_test", rng % (0, U32, 4294967296))
case("int_nr_analysis_wrap", "detector = { bank = { nr_analysis = 8589934593; }; };",
     "detector.bank.nr_analysis", rng % (1, U32, 8589934593))
case("int_ceiling_wrap", "detector = { ceiling = { events = 4294967297; }; };",
     "detector.ceiling.events", rng % (0, U32, 4294967297))
case("int_dead_pmts_wrap", "detector = { dead_pmts = 4294967297; };", "detector.dead_pmts",
     rng % (0, 100, 4294967297))
case("int_coincidence_zero", "detector = { s1_coincidence = 0; };", "detector.s1_coincidence",
     rng % (1, 50, 0))
case("int_max_attempts_wrap", "detector = { max_attempts = 4294967297; };",
     "detector.max_attempts", rng % (1, 1000000000, 4294967297))
case("int_sampler_points_wrap", "physics = { sampler_points = 4294967297; };",
     "physics.sampler_points", rng % (2000, 10000000, 4294967297))
case("int_bins_wrap", "stats = { binning = { bins = 4294967297; }; };", "stats.binning.bins",
     rng % (1, 100000, 4294967297))
case("int_bins_zero", "stats = { binning = { bins = 0; }; };", "stats.binning.bins",
     rng % (1, 100000, 0))
case("int_toys_wrap", "stats = { toys = { count = 4294967297; }; };", "stats.toys.count",
     rng % (1, 1000000000, 4294967297))
case("int_cs1_bins_zero", "stats = { classical = { cs1_bins = 0; }; };",
     "stats.classical.cs1_bins", rng % (1, 10000, 0))
case("int_y_bins_wrap", "stats = { classical = { y_bins = 4294967306; }; };",
     "stats.classical.y_bins", rng % (1, 10000, 4294967306))
case("int_latent_wrap", "nn = { cvae = { latent = 4294967297; }; };", "nn.cvae.latent",
     rng % (1, 100000, 4294967297))
case("int_epochs_wrap", "train = { cvae = { epochs = 4294967297; }; };", "train.cvae.epochs",
     "must be in [1, ")
case("int_batch_zero", "train = { cnn = { batch_size = 0; }; };", "train.cnn.batch_size",
     "must be in [1, ")
case("int_eval_batch_wrap", "train = { eval_batch_size = 4294967297; };",
     "train.eval_batch_size", "must be in [1, ")
case("int_points_wrap", "scan = { mass_gev = { from = 10.0; to = 100.0; points = 4294967297; }; };",
     "scan.mass_gev", "4294967297 points, at most 1024 allowed")
case("int_points_2p63", "scan = { mass_gev = { from = 10.0; to = 100.0; points = 99999999999999999999; }; };",
     "scan.mass_gev.points", "integer does not fit in 64 bits")
case("int_list_2p63", "scan = {\n  mass_gev = [10,\n    99999999999999999999];\n};",
     "scan.mass_gev", "integer does not fit in 64 bits", line=4)
case("int_mass_list_wrap", "scan = { mass_gev = [50, 4294967297]; };", "scan.mass_gev",
     "element 1 = 4.29497e+09 GeV is outside the plausible range")
case("int_set_min_mc", "stats = { binning = { min_mc_per_bin = 0; }; };",
     "stats.binning.min_mc_per_bin", "must be >= 1, got 0")

# --- plausibility of physical quantities ----------------------------------
pl = "is outside the plausible range"
case("phys_mass_1e300", "scan = { mass_gev = [1e300]; };", "scan.mass_gev",
     "element 0 = 1e+300 GeV " + pl + " [1, 100000] GeV")
case("phys_mass_1e6", "scan = { mass_gev = [50.0, 1e6]; };", "scan.mass_gev",
     "element 1 = 1e+06 GeV " + pl)
case("phys_mass_half", "scan = { mass_gev = [0.5, 50.0]; };", "scan.mass_gev",
     "element 0 = 0.5 GeV " + pl)
case("phys_mass_range_1e10", "scan = { mass_gev = { log_from = 10.0; log_to = 1e10; points = 3; }; };",
     "scan.mass_gev", "element 1 = 316228 GeV " + pl)
case("phys_sigma_1e10", "scan = { sigma_cm2 = [1e10]; };", "scan.sigma_cm2",
     "element 0 = 1e+10 cm2 " + pl + " [1e-52, 1e-30] cm2")
case("phys_sigma_1e-60", "scan = { sigma_cm2 = [1e-60, 1e-45]; };", "scan.sigma_cm2",
     "element 0 = 1e-60 cm2 " + pl)
case("phys_sigma_1e-29", "scan = { sigma_cm2 = [1e-45, 1e-29]; };", "scan.sigma_cm2",
     "element 1 = 1e-29 cm2 " + pl)
case("phys_sigma_range", "scan = { sigma_cm2 = { log_from = 1e-49; log_to = 1.0; points = 2; }; };",
     "scan.sigma_cm2", "element 1 = 1 cm2 " + pl)
case("phys_sigma_ref_big", "physics = { sigma_ref_cm2 = 1e10; };", "physics.sigma_ref_cm2",
     "1e+10 cm2 " + pl)
case("phys_sigma_ref_small", "physics = { sigma_ref_cm2 = 1e-60; };", "physics.sigma_ref_cm2",
     "1e-60 cm2 " + pl)
case("phys_ref_mass_small", "physics = { nr_reference = { mass_gev = [0.1, 10.0]; }; };",
     "physics.nr_reference.mass_gev", "element 0 = 0.1 GeV " + pl)
case("phys_ref_mass_big", "physics = { nr_reference = { mass_gev = [10.0, 1e7]; }; };",
     "physics.nr_reference.mass_gev", "element 1 = 1e+07 GeV " + pl)
case("phys_exposure_big", "scan = { exposure_ty = [1.0, 1e5]; };", "scan.exposure_ty",
     "element 1 = 100000 t*y " + pl + " [0.001, 10000] t*y")
case("phys_exposure_small", "scan = { exposure_ty = [1e-5, 1.0]; };", "scan.exposure_ty",
     "element 0 = 1e-05 t*y " + pl)
case("phys_bank_er_train_big", "detector = { bank = { er_train = 200000000; }; };",
     "detector.bank.er_train", "2e+08 events " + pl + " [0, 1e+08] events")
case("phys_bank_nr_analysis_big", "detector = { bank = { nr_analysis = 1000000000; }; };",
     "detector.bank.nr_analysis", "1e+09 events " + pl)
case("phys_bank_er_test_big", "detector = { bank = { er_test = 4000000000; }; };",
     "detector.bank.er_test", "4e+09 events " + pl)
case("phys_ceiling_big", "detector = { ceiling = { events = 500000000; }; };",
     "detector.ceiling.events", "5e+08 events " + pl)
case("phys_mass_inf", "scan = { mass_gev = [1e400]; };", "scan.mass_gev", "element 0 is not finite")
case("phys_sigma_ref_zero", "physics = { sigma_ref_cm2 = 0.0; };", "physics.sigma_ref_cm2",
     "must be > 0 cm2, got 0")
case("phys_sigma_ref_neg", "physics = { sigma_ref_cm2 = -1e-45; };", "physics.sigma_ref_cm2",
     "must be > 0 cm2, got -1e-45")
case("phys_allow_type", "physics = { allow_implausible = 1; };", "physics.allow_implausible",
     "expected true or false, got an integer")
case("phys_allow_string", "physics = { allow_implausible = \"yes\"; };",
     "physics.allow_implausible", "expected true or false, got a string")
case("phys_allow_misspelt", "physics = { alow_implausible = true; };",
     "physics.alow_implausible", "unknown key (did you mean 'allow_implausible'?)")

# --- scan masses the simulation cannot produce (xent_sr0 detector) --------
reach = "the simulation cannot produce NR events that pass the cuts at this mass"
case("reach_mass_5", "scan = { mass_gev = [5.0, 50.0]; };", "scan.mass_gev",
     "element 0 = 5 GeV: its NR recoils end at 2.66 keV")
case("reach_mass_6", "scan = { mass_gev = [6.0]; };", "scan.mass_gev",
     "element 0 = 6 GeV: its NR recoils end at 3.77 keV (mean cS1 3.69 PE), below 2 x "
     "detector.ceiling.cs1_min_pe = 6 PE: " + reach)
case("reach_mass_7", "scan = { mass_gev = [7.0, 100.0]; };", "scan.mass_gev",
     "element 0 = 7 GeV: its NR recoils end at 5.06 keV")
case("reach_mass_second", "scan = { mass_gev = [1.0, 50.0]; };", "scan.mass_gev",
     "element 0 = 1 GeV: its NR recoils end at")
case("reach_mass_3", "scan = { mass_gev = [3.0, 6.5, 50.0]; };", "scan.mass_gev",
     "element 0 = 3 GeV")
case("reach_mass_range", "scan = { mass_gev = { log_from = 2.0; log_to = 200.0; points = 3; }; };",
     "scan.mass_gev", "element 0 = 2 GeV")
case("reach_threshold", "scan = { mass_gev = [10.0]; };\ndetector = { ceiling = { cs1_min_pe = 30.0; }; };",
     "scan.mass_gev", "element 0 = 10 GeV: its NR recoils end at 9.86 keV (mean cS1 12.85 PE), "
     "below 2 x detector.ceiling.cs1_min_pe = 60 PE")

# --- run.name --------------------------------------------------------------
case("name_empty", 'run = { name = ""; };', "run.name", '"" is not a name')
case("name_dot", 'run = { name = "."; };', "run.name", '"." is not a name')
case("name_dotdot", 'run = { name = ".."; };', "run.name", '".." is not a name')
case("name_slash", 'run = { name = "a/b"; };', "run.name", '"a/b": use letters')
case("name_parent", 'run = { name = "../x"; };', "run.name", '"../x": use letters')
case("name_int", "run = { name = 3; };", "run.name", "expected a string")
case("output_dir_empty", 'run = { output_dir = ""; };', "run.output_dir", "must not be empty")

# --- network input against the image size ----------------------------------
img = "does not match the images, which are [3, 75, 75]"
case("nn_cnn_input_64", "nn = { cnn = { input = [3, 64, 64]; }; };", "nn.cnn.input",
     "[3, 64, 64] " + img)
# (the CVAE's own check comes first: its decoder must reproduce the input)
case("nn_cvae_input_c1", "nn = { cvae = { input = [1, 75, 75]; }; };", "nn.cvae.decoder.[4]",
     "layer 'dec.tconv3': the decoder ends in shape (3,75,75) but must reproduce the input "
     "(1,75,75)")
case("nn_cnn_input_w", "nn = { cnn = { input = [3, 75, 74]; }; };", "nn.cnn.input",
     "[3, 75, 74] " + img)
case("nn_input_two", "nn = { cnn = { input = [75, 75]; }; };", "nn.cnn.input",
     "expected [C, H, W], got 2 values")
case("nn_input_float", "nn = { cnn = { input = [3.5, 75.0, 75.0]; }; };", "nn.cnn.input",
     "expected positive integers [C, H, W]")
case("nn_latent_zero", "nn = { cvae = { latent = 0; }; };", "nn.cvae.latent",
     rng % (1, 100000, 0))
case("nn_beta_neg", "nn = { cvae = { beta = -1.0; }; };", "nn.cvae.beta", "must be >= 0")
case("nn_unknown", "nn = { cnn = { inptu = [3, 75, 75]; }; };", "nn.cnn.inptu", "unknown key")

# --- empty samples ----------------------------------------------------------
case("zero_er_analysis", "detector = { bank = { er_analysis = 0; }; };",
     "detector.bank.er_analysis", rng % (1, U32, 0))
case("zero_nr_analysis", "detector = { bank = { nr_analysis = 0; }; };",
     "detector.bank.nr_analysis", rng % (1, U32, 0))
case("zero_er_train", "detector = { bank = { er_train = 0; }; };", "detector.bank.er_train",
     rng % (1, U32, 0))
case("zero_nr_train", "detector = { bank = { nr_train = 0; }; };", "detector.bank.nr_train",
     rng % (1, U32, 0))
case("zero_neg_test", "detector = { bank = { er_test = -1; }; };", "detector.bank.er_test",
     rng % (0, U32, -1))
case("zero_ceiling_small", "detector = { ceiling = { events = 10; }; };", "detector.ceiling.events",
     "must be 0 (no ceiling) or at least 1000, got 10")
case("zero_score_batch", "score = { batch_size = 0; };", "score.batch_size", "must be in [1, ")

# --- resources: what no node can hold, found before anything runs --------
CNN_L = ('layers = ( { type = "conv2d"; filters = %d; kernel = 3; stride = 1; padding = "same"; '
         'act = "leaky_relu"; alpha = 0.05; }, { type = "maxpool"; size = 2; stride = 2; }, '
         '{ type = "flatten"; }, { type = "dense"; units = 1; act = "none"; } );')
CVAE_DEC = ('decoder = ( { type = "dense"; units = 3200; act = "leaky_relu"; alpha = 0.05; }, '
            '{ type = "reshape"; shape = [128, 5, 5]; }, { type = "conv2d_transpose"; '
            'filters = %d; kernel = 3; stride = 1; padding = "same"; act = "leaky_relu"; '
            'alpha = 0.05; }, { type = "conv2d_transpose"; filters = %d; kernel = 5; stride = 5; '
            'padding = "same"; act = "leaky_relu"; alpha = 0.05; }, { type = "conv2d_transpose"; '
            'filters = 3; kernel = 3; stride = 3; padding = "same"; act = "sigmoid"; } );')
case("res_cnn_filters_1e6", "nn = { cnn = { %s }; };" % (CNN_L % 1000000), "nn.cnn.layers.[0]",
     "layer 'conv1': too large: a fan of 9000000 weights per output or input channel and "
     "5625000000 outputs per sample (at most 2147483647 each)")
case("res_cnn_filters_3e5", "nn = { cnn = { %s }; };" % (CNN_L % 300000), "nn.cnn",
     "the train stage needs an estimated")
# found by fuzzing: the fan of the second layer overflowed an int
case("res_cnn_fan_overflow",
     'nn = { cnn = { layers = ( { type = "conv2d"; filters = 50000; kernel = 3; stride = 3; '
     'padding = "same"; }, { type = "conv2d"; filters = 2; kernel = 300; stride = 1; '
     'padding = "same"; }, { type = "flatten"; }, { type = "dense"; units = 1; act = "none"; } '
     '); }; };', "nn.cnn.layers.[1]", "layer 'conv2': too large: a fan of 4500000000 weights")
case("res_cvae_filters_1e6", "nn = { cvae = { %s }; };" % (CVAE_DEC % (1000000, 1000000)), "nn.cvae",
     "the train stage needs an estimated")
case("res_score_batch", "score = { batch_size = 65536; };\nnn = { cnn = { %s }; };"
     % (CNN_L % 2000), "score.batch_size", "the score stage needs an estimated")
case("res_eval_batch", "train = { eval_batch_size = 65536; };\nnn = { cnn = { %s }; };"
     % (CNN_L % 2000), "train.eval_batch_size", "the train stage needs an estimated")
case("res_memory_negative", "run = { memory_per_rank_mb = -1.0; };", "run.memory_per_rank_mb",
     "must be 0 (detect: MemAvailable / ranks per node) or a size in MB up to 1e9, got -1")
case("res_memory_string", 'run = { memory_per_rank_mb = "4G"; };', "run.memory_per_rank_mb",
     "expected a number")
case("zero_score_er_events", "score = { er_events = 0; };", "score.er_events",
     "must be -1 (the bank's analysis split) or in [1, 4000000000], got 0")
case("zero_score_nr_events", "score = { nr_events = 0; };", "score.nr_events",
     "must be -1 (the bank's analysis split) or in [1, 4000000000], got 0")
case("zero_block_batches", "score = { block_batches = 0; };", "score.block_batches",
     "must be in [1, 1000000], got 0")

# --- types, structure, unknown keys ------------------------------------------
case("type_seed_float", "run = { seed = 2.0; };", "run.seed",
     "expected an integer, got a float (2)")
case("type_seed_bool", "run = { seed = true; };", "run.seed", "expected an integer, got a boolean")
case("type_seed_list", "run = { seed = [1, 2]; };", "run.seed",
     "expected an integer, got an array [ ... ]")
case("type_mass_string", 'scan = { mass_gev = "fifty"; };', "scan.mass_gev",
     "expected a list of numbers or a range, got a string")
case("type_mass_strings", 'scan = { mass_gev = ["a", "b"]; };', "scan.mass_gev",
     "element 0: expected a number, got a string")
case("type_sigma_bool", "scan = { sigma_cm2 = true; };", "scan.sigma_cm2",
     "expected a list of numbers or a range, got a boolean")
case("type_methods_int", "scan = { methods = 3; };", "scan.methods",
     "expected a list of strings, got an integer")
case("type_bank_group", "detector = { bank = 5; };", "detector.bank",
     "expected a group { ... }, got an integer")
case("type_scan_int", "scan = 3;", "scan", "expected a group { ... }, got an integer")
case("type_physics_array", "physics = [1, 2];", "physics", "expected a group { ... }, got an array")
case("type_window_one", "physics = { analysis_window_kev = [4.0]; };",
     "physics.analysis_window_kev", "must be an energy range [E1, E2] in keV (2 numbers)")
case("type_window_reversed", "physics = { analysis_window_kev = [50.0, 4.0]; };",
     "physics.analysis_window_kev", "range is reversed or empty")
case("type_preset", 'detector = { preset = "xenon9000"; };', "detector.preset",
     '"xenon9000" is not one of')
case("type_halo_preset", 'physics = { halo = { preset = "shm"; }; };', "physics.halo.preset",
     '"shm" is not one of "shm_2021", "shm_classic"')
case("type_g1", "detector = { g1_pe = 1.5; };", "detector.g1_pe", "must be in (0, 1], got 1.5")
case("type_lifetime", "detector = { electron_lifetime_us = -3.0; };",
     "detector.electron_lifetime_us", "must be > 0")
case("type_v_esc", "physics = { halo = { v_esc_km_s = 0.0; }; };", "physics.halo.v_esc_km_s",
     "must be > 0 km/s, got 0")
case("type_range_points_zero", "scan = { r = { from = 0.0; to = 10.0; points = 0; }; };",
     "scan.r", "points must be >= 1, got 0")
case("type_range_mixed", "scan = { sigma_cm2 = { from = 1e-47; log_to = 1e-45; points = 3; }; };",
     "scan.sigma_cm2", "a range needs either")
case("unknown_top", "sacn = { mass_gev = [50.0]; };", "sacn", "unknown key")
case("unknown_scan_key", "scan = { mas_gev = [50.0]; };", "scan.mas_gev",
     "unknown key (did you mean 'mass_gev'?)")
case("unknown_bank_key", "detector = { bank = { er_trian = 100; }; };", "detector.bank.er_trian",
     "unknown key (did you mean 'er_train'?)")
case("unknown_run_key", "run = { sed = 3; };", "run.sed", "unknown key (did you mean 'seed'?)")
case("unknown_stats_key", "stats = { toys = { cout = 10; }; };", "stats.toys.cout",
     "unknown key (did you mean 'count'?)")

# --- syntax (no key: file:line only) -----------------------------------------
case("syntax_two_values", "run = {\n  seed = 1 2;\n};", None, "syntax error", line=3)
case("syntax_unterminated", "run = {\n  name = \"abc;\n};", None, "syntax error", line=5)  # libconfig: end of file
case("syntax_brace", "run = {\n  seed = 1;\n", None, "syntax error", line=5)
case("syntax_equals", "run = { seed == 1; };", None, "syntax error")
case("syntax_mixed_array", "scan = { mass_gev = [50.0, \"x\"]; };", None,
     "mismatched element type in array")
case("syntax_mixed_int_float_l", "scan = { mass_gev = [50L, 60.0]; };", None,
     "mismatched element type in array")
case("syntax_include_indented", "  @include \"x.cfg\"", None, "@include is not supported")
case("syntax_duplicate_key", "run = { seed = 1; seed = 2; };", None, "duplicate setting name")


def write_all():
    names = set()
    for name, body, line, key, msg in CASES:
        assert name not in names, name
        names.add(name)
        fname = "g_%s.cfg" % name
        where = "%s:%d: " % (fname, line)
        expect = where + ("%s: %s" % (key, msg) if key else msg)
        with open(os.path.join(OUT, fname), "w") as f:
            f.write("# expect: %s\n%s\n" % (expect, body))
    # NUL bytes: libconfig would silently drop everything after them.
    nul_cases = [
        ("g_nul_line2.cfg", b"run = { seed = 1; };\x00scan = { mass_gev = [1e300]; };\n", 2),
        ("g_nul_line4.cfg", b"run = {\n  seed = 1;\n\x00  name = \"..\";\n};\n", 4),
        ("g_nul_comment.cfg", b"# a comment \x00 with a NUL\nrun = { seed = 1; };\n", 2),
    ]
    for fname, body, line in nul_cases:
        head = "# expect: %s:%d: the file contains a NUL byte\n" % (fname, line)
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(head.encode() + body)
    return len(CASES) + len(nul_cases)


if __name__ == "__main__":
    print("wrote %d files to %s" % (write_all(), os.path.normpath(OUT)))
