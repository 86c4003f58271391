/*
 * safeupdate: refuses UPDATE and DELETE statements without a WHERE clause.
 *
 * Supabase preloads pg-safeupdate (github.com/eradman/pg-safeupdate) for the roles
 * its Data API logs in as (`alter role authenticator set session_preload_libraries`),
 * so a request that would rewrite or empty a whole table fails instead. Debian has no
 * package of it; this is the local stack's own implementation of the same behaviour,
 * written for this project:
 *
 *   - checked after parse analysis, so it holds for every statement the session
 *     parses: the client's, and those inside SQL and PL/pgSQL functions it calls;
 *   - data-modifying WITH queries are checked too, at any depth;
 *   - refused with SQLSTATE 21000 (cardinality_violation) and the message
 *     "UPDATE requires a WHERE clause" / "DELETE requires a WHERE clause";
 *   - `safeupdate.enabled` (boolean, default on, superuser-only) switches it off;
 *   - never in binary-upgrade mode (pg_upgrade).
 *
 * "WHERE true" is a WHERE clause: it states that every row is meant.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "parser/analyze.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static bool safeupdate_enabled = true;
static post_parse_analyze_hook_type next_post_parse_analyze = NULL;

static const char *
command_name(CmdType command)
{
	switch (command)
	{
		case CMD_UPDATE:
			return "UPDATE";
		case CMD_DELETE:
			return "DELETE";
		default:
			return NULL;
	}
}

static void
refuse_unqualified(const Query *query)
{
	const char *command;
	ListCell   *item;

	foreach(item, query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, item);

		if (cte->ctequery != NULL && IsA(cte->ctequery, Query))
			refuse_unqualified((const Query *) cte->ctequery);
	}

	command = command_name(query->commandType);
	if (command == NULL)
		return;
	if (query->jointree != NULL && query->jointree->quals != NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CARDINALITY_VIOLATION),
			 errmsg("%s requires a WHERE clause", command)));
}

static void
safeupdate_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (next_post_parse_analyze != NULL)
		next_post_parse_analyze(pstate, query, jstate);
	if (safeupdate_enabled && !IsBinaryUpgrade)
		refuse_unqualified(query);
}

void
_PG_init(void)
{
	DefineCustomBoolVariable("safeupdate.enabled",
							 "Refuse UPDATE and DELETE statements without a WHERE clause.",
							 NULL,
							 &safeupdate_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL,
							 NULL,
							 NULL);
	next_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = safeupdate_post_parse_analyze;
}
