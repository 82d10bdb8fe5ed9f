/*
 * Fuzz target: the gateway's SSM operator handlers on arbitrary request
 * bytes against a small store (made once in a private temp directory: 7
 * activations, 6 tagged instances).  The first byte picks the operation
 * (DescribeActivations, DescribeInstanceInformation, RemoveTagsFromResource,
 * ListTagsForResource); the rest is the JSON body, or, when the byte is odd,
 * a NextToken value wrapped into {"MaxResults":5,"NextToken":"..."}.  Every
 * call must fill a result (body or AWS error code) and leave no store
 * transaction open; a NextToken the gateway issued is followed to the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh_json.h"
#include "gw_ssm.h"
#include "gw_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gw_store *st;
static char st_dir[] = "/tmp/fuzz_gwssmXXXXXX";

/* Remove the private store when the process ends. */
static void
cleanup(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[96];
	size_t i;

	gw_store_close(st);
	st = NULL;
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/gw.db%s", st_dir, suffix[i]);
		unlink(path);
	}
	rmdir(st_dir);
}

static const char *const targets[] = {
	"AmazonSSM.DescribeActivations",
	"AmazonSSM.DescribeInstanceInformation",
	"AmazonSSM.RemoveTagsFromResource",
	"AmazonSSM.ListTagsForResource",
};

static void
ctx_init(struct gw_ssm_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->region = "us-east-1";
	c->account = "123456789012";
	c->now_ms = 1790000000000LL;
}

static void
seed_store(void)
{
	struct gw_store_activation a;
	struct gw_store_instance *in = calloc(1, sizeof(*in));
	char path[96];
	int i;

	if (in == NULL || mkdtemp(st_dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/gw.db", st_dir);
	if (gw_store_open(path, &st, NULL) != DH_OK)
		abort();
	atexit(cleanup);
	for (i = 0; i < 7; i++) {
		memset(&a, 0, sizeof(a));
		snprintf(a.id, sizeof(a.id), "00000000-0000-4000-8000-00000000000%c",
		    (char)('0' + i));
		snprintf(a.iam_role, sizeof(a.iam_role), "role%d", i % 2);
		a.limit = 10;
		a.expires_ms = 1790000000000LL + 86400000LL;
		a.created_ms = 1790000000000LL - i % 3;
		(void)gw_store_activation_put(st, &a, NULL);
	}
	for (i = 0; i < 6; i++) {
		memset(in, 0, sizeof(*in));
		snprintf(in->id, sizeof(in->id), "mi-0000000000000000%c",
		    (char)('0' + i));
		snprintf(in->activation_id, sizeof(in->activation_id), "%s",
		    a.id);
		in->registered_ms = 1790000000000LL - i % 2;
		in->last_ping_ms = i % 2 ? 1790000000000LL : 0;
		(void)gw_store_instance_put(st, in, NULL);
		(void)gw_store_tag_put(st, in->id, "env", "prod", NULL);
		(void)gw_store_tag_put(st, in->id, "team", "ops", NULL);
	}
	free(in);
}

/* Follow the pages an issued NextToken leads to (bounded). */
static void
follow(const struct gw_ssm_ctx *c, const struct gw_ssm_op *op,
    struct gw_ssm_result *res)
{
	cJSON *in;
	int pages = 0;

	while (res->error_code == NULL && res->body != NULL && pages++ < 20) {
		const char *tok = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(res->body, "NextToken"));

		if (tok == NULL)
			return;
		in = cJSON_CreateObject();
		if (in == NULL || cJSON_AddNumberToObject(in, "MaxResults", 5) ==
		    NULL || cJSON_AddStringToObject(in, "NextToken", tok) ==
		    NULL)
			abort();
		gw_ssm_result_free(res);
		(void)gw_ssm_call(c, op, in, res);
		cJSON_Delete(in);
		if (res->error_code != NULL)
			abort();     /* an issued token must be accepted */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct gw_ssm_op *op;
	struct gw_ssm_result res;
	struct gw_ssm_ctx c;
	cJSON *in = NULL;
	char *tok;

	if (st == NULL)
		seed_store();
	if (size == 0)
		return 0;
	op = gw_ssm_find(targets[(data[0] >> 1) % 4]);
	if (op == NULL)
		abort();
	ctx_init(&c);
	if (data[0] & 1) {
		tok = malloc(size);
		if (tok == NULL)
			return 0;
		memcpy(tok, data + 1, size - 1);
		tok[size - 1] = '\0';
		in = cJSON_CreateObject();
		if (in == NULL || cJSON_AddNumberToObject(in, "MaxResults", 5) ==
		    NULL || cJSON_AddStringToObject(in, "NextToken", tok) ==
		    NULL)
			abort();
		free(tok);
	} else if (dh_json_parse(data + 1, size - 1, 1 << 16, &in, NULL) !=
	    DH_OK) {
		return 0;
	}
	(void)gw_ssm_call(&c, op, in, &res);
	if (res.error_code == NULL && res.body == NULL)
		abort();
	if (res.error_code == NULL)
		follow(&c, op, &res);
	if (gw_store_txn_depth(st) != 0)
		abort();
	gw_ssm_result_free(&res);
	cJSON_Delete(in);
	return 0;
}
