"""EDI X12 004010 for retailer dropship: envelope reader/writer, 846 feed, 997 acks, 850/855/856/810."""
