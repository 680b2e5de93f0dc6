/** A handset as digits only: receipts carry it as the SMSC wrote it, messages in E.164. */
export const handsetOf = (address: string): string => address.replace(/\D/g, '');
