/*
 * cli_sigv4: the "deckhand sigv4" subcommands.  "sign" reads a raw HTTP
 * request on stdin and prints its SigV4 canonical request, string to sign and
 * the signed request; "verify" reads a signed request and checks it with a
 * secret key (or an instance's RSA public key), printing the rebuilt
 * canonical request and string to sign.  Both exist to debug signature
 * mismatches between deckhand, AWS SDKs and the gateway.
 */
#ifndef CLI_SIGV4_H
#define CLI_SIGV4_H

/* Run "deckhand sigv4 ..." (argv[0] is "sigv4"); returns the process exit
 * status: 0 ok, 1 verification failed, 2 usage or parse error. */
int cli_sigv4_main(int argc, char **argv);

/* Print the sigv4 usage text to stdout (for "deckhand help"). */
void cli_sigv4_usage(void);

#endif
