"""Document x Document -> Assessment: the word diff, topics with evidence, significance."""
