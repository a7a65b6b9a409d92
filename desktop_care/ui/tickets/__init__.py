"""The support desk: ticket queues, the ticket view, a member's tickets."""
