"""One check of one document: acquire -> extract -> decide -> record, in one transaction."""
