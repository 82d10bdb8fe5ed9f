/*
 * ag_register: hybrid-activation registration.  Generates an RSA-2048 key,
 * a fingerprint UUID and the hardware map, calls the anonymous
 * AmazonSSM.RegisterManagedInstance with the activation code and id, and
 * stores the resulting identity atomically in the state directory.  An
 * existing identity is kept unless force is set.  Service refusals are
 * turned into clear messages (expired activation, registration limit used
 * up, unknown activation) with the service's code and text.
 */
#ifndef AG_REGISTER_H
#define AG_REGISTER_H

#include "ag_identity.h"
#include "dh_err.h"

/* All strings borrowed.  endpoint NULL/"" = AWS default for region;
 * ca NULL = system store; proxy NULL = environment. */
struct ag_register_opts {
	const char *code;
	const char *activation_id;
	const char *region;
	const char *endpoint;
	const char *ca;
	const char *proxy;
	const char *state_dir;
	int force;
};

/* Register and save; on success id (initialised by the caller) holds the
 * new identity.  DH_E_EXISTS when an identity exists and !force;
 * DH_E_SERVICE with an explanation when the activation is refused. */
int ag_register_run(const struct ag_register_opts *o, struct ag_identity *id,
    struct dh_err *err);

/* A human explanation for a RegisterManagedInstance error code/message
 * (static text; never NULL). */
const char *ag_register_explain(const char *code, const char *message);

#endif
