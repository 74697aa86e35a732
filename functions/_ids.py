"""What an id in a path may look like: the routes check it before anything reaches
DynamoDB, and the request models use it for ids in bodies. Its own module so that the routes
check paths without loading the request models."""

# What the shop makes (ids, share tokens, job names, dates) is letters, digits and "_-.:";
# keys longer than this cannot name anything we stored.
PATH_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"
