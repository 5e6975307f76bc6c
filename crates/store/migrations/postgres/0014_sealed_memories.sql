-- A private bond's journal entries (issue 20): the words sealed on the author's device,
-- kept in `body` as the device sent them, and the bond they were sealed in. Such an entry
-- opens (is shared) only to that bond, whose partner alone holds the key; NULL for an
-- entry in the clear. No reference to bonds: an entry outlives the bond it was sealed in.
ALTER TABLE memories ADD COLUMN sealed_bond UUID;
