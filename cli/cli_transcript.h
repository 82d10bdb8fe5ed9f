/*
 * cli_transcript: "deckhand transcript verify|play|export" for audited
 * session transcripts (plugins/session: ss_record chain, ss_cast
 * recordings).
 */
#ifndef CLI_TRANSCRIPT_H
#define CLI_TRANSCRIPT_H

/* Run "deckhand transcript ..." (argv[0] is "transcript"); returns the
 * process exit status: 0 ok, 1 verification/operation failed, 2 usage or
 * unreadable input. */
int cli_transcript_main(int argc, char **argv);

/* Print the transcript usage text to stdout (for "deckhand help"). */
void cli_transcript_usage(void);

#endif
