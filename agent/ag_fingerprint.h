/*
 * ag_fingerprint: the instance's hardware map and the similarity rule that
 * decides whether a saved identity still belongs to this machine.
 *
 * The fingerprint sent to SSM is a random UUID stored with the identity; the
 * hardware map beside it is what lets the agent notice that the identity was
 * copied to another machine.  Nine values are collected, with the same key
 * names as the reference agent (machine-id, hostname-info, ipaddress-info,
 * macaddr-info, disk-info, processor-hash, memory-hash, bios-hash,
 * system-hash), but from /proc and /sys instead of dmidecode, so no program
 * is spawned.  The rule: a threshold of -1 means always similar; a changed
 * machine-id is never similar; otherwise at least `threshold` percent of the
 * nine values must match, and the IP address alone never decides (an IP
 * change with everything else equal is always similar).
 */
#ifndef AG_FINGERPRINT_H
#define AG_FINGERPRINT_H

#include "dh_err.h"

#define AG_HW_NKEYS 9
#define AG_HW_VALMAX 128
#define AG_FP_DEFAULT_THRESHOLD 40

enum ag_hw_key {
	AG_HW_MACHINE_ID = 0,
	AG_HW_HOSTNAME,
	AG_HW_IPADDRESS,
	AG_HW_MACADDR,
	AG_HW_DISK,
	AG_HW_PROCESSOR,
	AG_HW_MEMORY,
	AG_HW_BIOS,
	AG_HW_SYSTEM
};

/* Hardware values as NUL-terminated strings ("" when a probe failed). */
struct ag_hwmap {
	char v[AG_HW_NKEYS][AG_HW_VALMAX];
};

/* Static name of key k ("machine-id", ...), or NULL when k is out of range. */
const char *ag_fp_key_name(int k);

/* Index of the key called name, or -1. */
int ag_fp_key_index(const char *name);

/* Collect the map of this machine.  root prefixes every file path read
 * ("" or NULL for the real root; tests pass a fake tree).  Probes that fail
 * leave "" and never fail the call. */
void ag_fp_collect(const char *root, struct ag_hwmap *out);

/* Set one value (truncated to AG_HW_VALMAX-1); DH_E_ARG for a bad key. */
int ag_fp_set(struct ag_hwmap *m, int k, const char *val);

/* Number of keys whose values are equal in a and b. */
int ag_fp_matches(const struct ag_hwmap *a, const struct ag_hwmap *b);

/* 1 when current is similar to saved under threshold (-1..100), else 0.
 * When not similar and why is non-NULL, a reason is written to why. */
int ag_fp_similar(const struct ag_hwmap *saved, const struct ag_hwmap *current,
    int threshold, char *why, size_t whysz);

#endif
