"""The steps of ``embedded.diarization`` that do not depend on the speaker encoder: clustering window embeddings
into speakers (:mod:`.clustering`) and resegmenting speech frames from the clusters (:mod:`.resegmentation`)."""
