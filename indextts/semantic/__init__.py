"""w2v-BERT features and the MaskGCT semantic codec."""
