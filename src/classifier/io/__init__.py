"""Input and output of inquiries: the data contract of the labeled corpus, mail parsing (.eml, mbox,
Maildir), the readers of every batch format, and the limits that keep hostile input bounded."""
