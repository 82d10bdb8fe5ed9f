/*
 * ag_identity: the registered instance's identity in the state directory.
 *
 * One file, <state>/identity.json (mode 0600, directory 0700), holds the
 * managed-instance id, region, the SSM endpoint and CA bundle used at
 * registration (so `run` reaches the same service without a config), the
 * RSA private key (standard base64 of PKCS#1 DER, as dh_rsasig exports it),
 * its creation time, the fingerprint UUID sent to SSM, the similarity
 * threshold and the hardware map (ag_fingerprint).  Keeping everything in
 * one file makes key rotation a single atomic replace (dh_config_write_atomic:
 * temporary file, fsync, rename over the old one, fsync of the directory),
 * so a crash leaves either the old or the new identity.
 *
 * Ownership: struct ag_identity owns private_key (malloc'd, wiped by
 * ag_identity_clear).  The file is hostile input: ag_identity_parse checks
 * every field's type and length.
 */
#ifndef AG_IDENTITY_H
#define AG_IDENTITY_H

#include <stddef.h>
#include <time.h>

#include "ag_fingerprint.h"
#include "dh_buf.h"
#include "dh_err.h"

#define AG_IDENTITY_FILE "identity.json"
#define AG_IDENTITY_MAX (64 * 1024)
#define AG_INSTANCE_ID_MAX 64
#define AG_REGION_MAX 64
#define AG_ENDPOINT_MAX 512
#define AG_KEY_B64_MAX 4096

struct ag_identity {
	char instance_id[AG_INSTANCE_ID_MAX];  /* "mi-..." */
	char region[AG_REGION_MAX];
	char endpoint[AG_ENDPOINT_MAX];        /* "" = default AWS endpoint */
	char ca_bundle[AG_ENDPOINT_MAX];       /* "" = system trust store */
	char *private_key;                     /* base64 PKCS#1 DER, owned */
	time_t key_created;                    /* 0 = unknown */
	char fingerprint[40];                  /* UUID sent to SSM */
	int similarity;                        /* -1..100 */
	struct ag_hwmap hw;
};

/* Zero id (similarity set to the default threshold). */
void ag_identity_init(struct ag_identity *id);

/* Wipe and free the private key and zero id. */
void ag_identity_clear(struct ag_identity *id);

/* Replace the private key with a copy of b64[0..n) (old copy wiped). */
int ag_identity_set_key(struct ag_identity *id, const char *b64, size_t n,
    struct dh_err *err);

/* Parse the JSON text p[0..n) into id (initialised by the caller; cleared
 * on failure).  DH_E_FORMAT/DH_E_TOOBIG with the offending field. */
int ag_identity_parse(const void *p, size_t n, struct ag_identity *id,
    struct dh_err *err);

/* Append the JSON form of id to out (init out with dh_buf_init_secret). */
int ag_identity_format(const struct ag_identity *id, struct dh_buf *out,
    struct dh_err *err);

/* Read <dir>/identity.json into id.  DH_E_NOTFOUND when absent; DH_E_IO or
 * DH_E_FORMAT otherwise; refuses a file readable by group or others. */
int ag_identity_load(const char *dir, struct ag_identity *id,
    struct dh_err *err);

/* 1 when <dir>/identity.json exists. */
int ag_identity_exists(const char *dir);

/* Create dir (0700) when missing and atomically replace
 * <dir>/identity.json (0600) with id. */
int ag_identity_save(const char *dir, const struct ag_identity *id,
    struct dh_err *err);

#endif
