# SPDX-License-Identifier: GPL-2.0-or-later
#
# 'make bench' (fork/bench-smi) in pieces: common.py runs and keeps
# samples, report.py only formats them, and each other module says what
# one section measures.
