#!/bin/sh
# Prisma's CLI insists on a native schema engine before `generate`, even though generation does not use it,
# and cannot download one on these machines. This stand-in satisfies the check; anything that really needs
# the engine (migrate, db push) fails loudly instead. The service applies migrations itself (src/core/db/migrate.ts).
echo "The Prisma schema engine is not available here; Insights applies prisma/migrations itself at start-up." >&2
exit 1
